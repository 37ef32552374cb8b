"""The admin site, only for staff signed in with a second factor (issue #23, hole 1).

Django's admin has a sign-in form of its own that takes the password alone; here it has none:
``/admin/login/`` sends people to the portal's sign-in (password, throttled by django-axes, then
the authenticator app's code — ``frontend.account``), and the admin lets in only active staff
whose session is verified (``authz.is_verified``). A staff member without an authenticator app
is told to set one up first. What the admin may change is limited in ``reviews.admin``.
"""
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from reviews import authz


class LoupeAdminSite(admin.AdminSite):
    site_header = "Loupe administration"
    site_title = "Loupe administration"

    def has_permission(self, request) -> bool:
        """Active staff, signed in with a second factor in this session."""
        return super().has_permission(request) and authz.is_verified(request.user)

    def login(self, request, extra_context=None):
        """No password form of its own: the portal's two-step sign-in, then back here."""
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff:
            raise PermissionDenied("The admin needs a second factor: set up an authenticator app under Account "
                                   "security (or sign out, then sign in again with its code).")
        if user.is_authenticated:
            raise PermissionDenied("The admin is for the portal's administrators.")
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse('login')}?{urlencode({'next': target})}")
