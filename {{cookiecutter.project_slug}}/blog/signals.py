from django.dispatch import Signal

# Sent (with asend) after the API created a post: post=<Post>. Other apps react to it
# (search indexes the post) without the blog importing them.
post_created = Signal()
