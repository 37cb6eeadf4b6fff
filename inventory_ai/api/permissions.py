"""API permissions: the same model permissions as the admin (view to read, approve to decide, add to propose)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission, DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Reading needs the model's view permission too (DRF's default lets any authenticated user read)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def can_approve(user, model) -> bool:
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.approve_{opts.model_name}")


class CanDecide(BasePermission):
    """Approving or rejecting: the model's approve permission (a POST that DjangoModelPermissions would read as add)."""

    message = _("You may not approve or reject these.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and can_approve(user, view.queryset.model))
