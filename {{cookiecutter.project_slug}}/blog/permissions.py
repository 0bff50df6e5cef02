"""Who may see and change which posts. Every view asks these; none spells a rule out.

- Published posts are for everyone.
- Drafts are for their author and staff; to anyone else they do not exist (404, not 403:
  a 403 would tell that the draft is there).
- Publishing, editing and deleting are for the author and staff; anyone else who can see
  the post gets a 403.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from .models import Post

Viewer = AbstractBaseUser | AnonymousUser


def is_staff(user: Viewer) -> bool:
    return bool(getattr(user, "is_staff", False))


def visible_posts(user: Viewer) -> Q:
    """A filter for the posts `user` may see."""
    if is_staff(user):
        return Q()
    if user.is_authenticated:
        return Q(published=True) | Q(author_id=user.pk)
    return Q(published=True)


def can_view(user: Viewer, post: Post) -> bool:
    return post.published or is_staff(user) or (user.is_authenticated and post.author_id == user.pk)


def can_publish(user: Viewer, post: Post) -> bool:
    return user.is_authenticated and (is_staff(user) or post.author_id == user.pk)


# Changing a post (edit, unpublish, delete) follows the same rule as publishing it.
can_change = can_publish
