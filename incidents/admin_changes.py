"""Admin saves that change only what the manager changed.

Django's admin decides what changed by comparing what was posted with the database at the
moment of saving. A page opened a while ago posts the values it showed then, so every field
someone else changed meanwhile would count as the manager's change, and be put back: an action
item completed by its owner reopened, a co-author's summary reverted. With each field's shown
value posted beside it (``show_hidden_initial``), ``changed_data`` compares with what the page
showed, and the services are asked to change only that. The engineers' forms work the same
way (``EditsWhatChanged``).
"""

from django import forms


def compared_with_what_was_shown(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    class ComparedWithWhatWasShown(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for field in self.fields.values():
                field.show_hidden_initial = True

    ComparedWithWhatWasShown.__name__ = form_class.__name__
    ComparedWithWhatWasShown.__qualname__ = form_class.__qualname__
    return ComparedWithWhatWasShown


class ChangesWhatWasChangedAdmin:
    """For a ``ModelAdmin`` whose saves read ``form.changed_data``."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        return compared_with_what_was_shown(super().get_form(request, obj, change, **kwargs))


class ChangesWhatWasChangedInline:
    """For an inline whose saves read each row form's ``changed_data``."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = compared_with_what_was_shown(formset.form)
        return formset
