"""The two staff roles of the product, as Django groups: planners decide, viewers look.

`ensure_roles` runs after every `migrate`, so the groups always hold the permissions the product's models define.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

PLANNER = "Planner"
VIEWER = "Viewer"

# Beyond viewing everything: decide on suggestions and adjustments, propose manual adjustments, start retrains,
# record demand events, override forecasts (turned off, never deleted: their audit trail and score stay), keep
# suppliers, edit, send, receive and cancel purchase orders.
PLANNER_EXTRA = (
    "add_demandevent",
    "change_demandevent",
    "delete_demandevent",
    "add_forecastoverride",
    "change_forecastoverride",
    "approve_reordersuggestion",
    "approve_stockadjustment",
    "add_stockadjustment",
    "add_forecastrun",
    "change_forecastrun",
    "add_supplier",
    "change_supplier",
    "add_supplieritem",
    "change_supplieritem",
    "delete_supplieritem",
    "change_purchaseorder",
    "change_purchaseorderline",
    "send_purchaseorder",
    "receive_purchaseorder",
    "add_autoapprovalrule",
    "change_autoapprovalrule",
    "delete_autoapprovalrule",
    "change_planning_settings",
    "add_alertsubscription",
    "change_alertsubscription",
    "delete_alertsubscription",
)


def ensure_roles() -> dict[str, Group]:
    """Create or update the Planner and Viewer groups; returns them by name."""
    view = Permission.objects.filter(content_type__app_label="inventory_ai", codename__startswith="view_")
    extra = Permission.objects.filter(content_type__app_label="inventory_ai", codename__in=PLANNER_EXTRA)
    viewer, _ = Group.objects.get_or_create(name=VIEWER)
    viewer.permissions.set(view)
    planner, _ = Group.objects.get_or_create(name=PLANNER)
    planner.permissions.set([*view, *extra])
    return {PLANNER: planner, VIEWER: viewer}


def create_staff_user(username: str, role: str, password: str, email: str = ""):
    """A staff user (can log in to the admin) in one role's group; an existing user is moved to that role."""
    from django.contrib.auth import get_user_model

    groups = ensure_roles()
    if role not in groups:
        raise ValueError(f"unknown role {role!r}; choose {PLANNER} or {VIEWER}")
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    user.is_staff = True
    user.set_password(password)
    user.save()
    user.groups.set([groups[role]])
    return user
