"""Migration operations of the product's own.

`AlterLabels`: fields and models whose words changed (names, help texts, the labels of choices) and nothing else.
Django writes one AlterField per field, and each renders the migration state again: the change that made the
interface translatable took 12 s on every fresh database (each test run, each new deployment). As one operation the
state changes in one pass and each model is reloaded once. Nothing reaches the database either way.
"""

from __future__ import annotations

from django.db.migrations.operations import AlterModelOptions
from django.db.migrations.operations.base import Operation


class AlterLabels(Operation):
    reduces_to_sql = False
    reversible = True

    def __init__(self, fields, options=None):
        self.fields = list(fields)  # (model name, field name, the field as it now is)
        self.options = dict(options or {})  # model name -> its options (as AlterModelOptions gives them)

    def deconstruct(self):
        return (self.__class__.__qualname__, [], {"fields": self.fields, "options": self.options})

    def state_forwards(self, app_label, state):
        touched = set()
        for model_name, name, field in self.fields:
            key = (app_label, model_name.lower())
            fields = state.models[key].fields
            old = fields.pop(name)
            if state._relations is not None and old.is_relation:
                state.resolve_model_field_relations(key, name, old)
            fields[name] = field
            if state._relations is not None and field.is_relation:
                state.resolve_model_field_relations(key, name, field)
            touched.add(key)
        for model_name, options in self.options.items():
            key = (app_label, model_name.lower())
            model_state = state.models[key]
            kept = {k: v for k, v in model_state.options.items() if k not in AlterModelOptions.ALTER_OPTION_KEYS}
            model_state.options = {**kept, **options}
            touched.add(key)
        for key in sorted(touched):
            state.reload_model(*key, delay=False)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        pass  # words only: nothing in the database changes

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def describe(self):
        return f"Alter the words of {len(self.fields)} fields and {len(self.options)} models"

    @property
    def migration_name_fragment(self):
        return "alter_labels"
