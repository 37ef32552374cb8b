"""Django's admin app, with Loupe's admin site (``portal.admin_site``) as its default site."""
from django.contrib.admin.apps import AdminConfig


class LoupeAdminConfig(AdminConfig):
    default_site = "portal.admin_site.LoupeAdminSite"
