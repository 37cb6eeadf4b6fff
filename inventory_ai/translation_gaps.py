"""Strings of Django's own apps that their Simplified Chinese catalogues leave untranslated (Django 5.2): the admin's
screen-reader headings of its model lists, its login and user pages, and a model-choice error.

Marked here so that the product's catalogue carries their translations: Django merges every installed app's catalogue
into its own, and the product's app comes first, so its entries fill the gaps. `tests/test_translations.py` renders
the admin in Chinese and fails on any English left, which is how these were found; a Django upgrade that translates
them makes these entries redundant, not wrong.
"""

from django.utils.translation import gettext_noop

DJANGO_ADMIN = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("Error:"),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("In case you’ve forgotten, you are:"),
)
DJANGO_FORMS = (gettext_noop("%(model)s instance with %(field)s %(value)r is not a valid choice."),)
