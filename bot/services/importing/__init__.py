"""Import of client tables (`.xlsx`, `.csv`): reading, column mapping, validation, writing."""
