"""Storage: SQLModel models, the async engine and every data-access function (the only code that writes SQL)."""
