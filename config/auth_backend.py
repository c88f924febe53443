"""Django's model permissions, read in one query instead of two.

``ModelBackend`` reads a person's own permissions and their groups' permissions with a query
each, on every request that checks one (every API call does). This backend reads both as one
UNION; everything else (active users only, superusers hold every permission, the per-request
cache on the user object) is ``ModelBackend``'s.

Where a person is read anyway (an API token's lookup), ``incidents.access`` reads their
permissions in the same query and fills that cache.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class ModelPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                granted = Permission.objects.all()
            else:
                # Unordered halves: SQLite refuses ORDER BY inside a compound statement, and
                # Permission's default ordering would put one in each.
                own = Permission.objects.filter(user=user_obj).order_by()
                granted = own.union(Permission.objects.filter(group__user=user_obj).order_by())
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in granted.values_list(
                    "content_type__app_label", "codename"
                )
            }
        return user_obj._perm_cache
