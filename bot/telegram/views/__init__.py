"""What the bot shows: texts and keyboards built from service results. Handlers parse, call a
service, and hand its result to a view here; views never call services or the database."""
