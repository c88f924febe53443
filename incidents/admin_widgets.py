"""Admin widgets the apps share."""

from django.contrib.admin.widgets import AutocompleteSelect


class KnownPeopleAutocomplete(AutocompleteSelect):
    """The admin's autocomplete box, showing its selected person from ``known`` (read once for
    every row of an inline) instead of a query per row. Anyone else (a person picked on a page
    sent back with an error) is read as the admin's widget reads them."""

    def __init__(self, field, admin_site, known: dict, **kwargs):
        super().__init__(field, admin_site, **kwargs)
        self.known = known

    def __deepcopy__(self, memo):
        copy = super().__deepcopy__(memo)
        copy.known = self.known  # one lookup, shared by every row's copy
        return copy

    def optgroups(self, name, value, attr=None):
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if not selected <= self.known.keys():
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        for key in sorted(selected):
            person = self.known[key]
            label = self.choices.field.label_from_instance(person)
            options.append(self.create_option(name, person.pk, label, True, len(options)))
        return [(None, options, 0)]
