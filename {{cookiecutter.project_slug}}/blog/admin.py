from django.contrib import admin

from .models import Post


@admin.register(Post)
class PostAdmin(admin.ModelAdmin[Post]):
    list_display = ["title", "published", "created_at"]
    list_filter = ["published"]
    search_fields = ["title"]
    date_hierarchy = "created_at"
