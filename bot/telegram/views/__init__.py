"""What handlers show: texts and keyboards built from what a service returned."""
