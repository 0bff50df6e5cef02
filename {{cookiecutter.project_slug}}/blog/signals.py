from django.dispatch import Signal

# Sent inside the transaction that created, changed or deleted posts: ids=[<post id>, ...].
# Every write path sends it (models.py), so a receiver that records work in the same
# transaction (search enqueues a task) misses none, without the blog importing it.
posts_changed = Signal()
