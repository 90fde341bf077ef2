"""Files written whole or not at all, and read back with errors that name them."""
