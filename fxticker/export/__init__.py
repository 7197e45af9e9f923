"""Export: the one CSV writer and the tables it writes."""
