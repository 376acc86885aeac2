"""Pure parsers of what managers type: dates, amounts and the command grammar.

Nothing here imports aiogram or touches the database; import the submodules directly.
"""
