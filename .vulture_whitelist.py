"""Names vulture (60%, `[tool.vulture]` in pyproject.toml) reports that are used where it cannot see: each line says
by whom. Names kept by their decorator (commands, routes, validators, event listeners) are listed in pyproject.toml.
A name that becomes truly dead is deleted from the code and from here; nothing new goes here without a reason."""

# Set for a library that reads them.
_.capture_signals  # uvicorn.Server: replaced so the console's files server leaves Ctrl+C to polling
_.should_exit  # uvicorn.Server: set to stop the console's web server
_.model_config  # pydantic-settings reads the class attribute
_.model_post_init  # pydantic calls it after validation
_.isolation_level  # sqlite3 driver: no implicit BEGIN (db/engine.py emits its own)
_.freeze_panes  # openpyxl worksheet settings, read when the workbook is saved
_.number_format  # openpyxl cell format
_.hyperlink  # openpyxl cell link (photo evidence)
_.fill  # openpyxl cell style
_.alignment  # openpyxl cell style
_.served_app  # uvicorn's app factory, named by the string "tocns.web.app:served_app" (cli/chat.py)
_.ActivityMonthTotal  # table kept by database triggers (migration 0018), read by targets/store.py in SQL text
_.TeamDayTotal  # rollup table kept by database triggers (migration 0021), read in SQL text
_.TeamDayRecords  # rollup table kept by database triggers (migration 0021), read in SQL text
_.CommuneDayTotal  # rollup table kept by database triggers (migration 0026), read in SQL text
_.CommuneDayRecords  # rollup table kept by database triggers (migration 0026), read in SQL text

# Read by templates or serialized, not by Python code.
_.svg  # dashboard overview.html draws each trend's SVG
_.silent_children  # dashboard overview.html lists the silent units
_.recalled_at  # dashboard directive.html shows when a directive was recalled
_.previous_quantity  # Report.to_dict (dataclasses.asdict): GET /api/reports JSON for API clients
_.unreached_communes  # directives API response model fields, serialized by FastAPI
_.status_url
_.by
_.acknowledged
_.people_acknowledged
_.acknowledged_communes

# Columns written for the record's history (who and when), read by people in the database and the audit log.
_.deleted_by_person_id
_.deactivated_at
_.deactivated_reason
_.last_seen_at
_.used_by_person_id
_.set_by_person_id
_.cancelled_at
_.cancelled_by_person_id
_.completed_by_person_id
_.refreshed_at

# Entry points that the product calls only through tests or an operator's console session.
_.recover  # Pipeline: sweep a backlog to the end in one call (tests drive the loop's work with it)
_.audit_trail  # one record's audit rows, oldest first (tests; an operator in `python -m asyncio`)
_.current_revision  # the database's Alembic revision (migration tests)
_.render_xlsx  # the whole workbook as bytes: the tests' one-call form of write_workbook
_.numbers_in  # the parser's view of the digits in a message: the field-phrasing tests check no number is lost

# Attributes a library reads that our code only sets.
_._write_rows  # openpyxl's WriteOnlyWorksheet calls it on the first append (core.sheet_rows writes the rows as text)
_.identity_token  # SQLAlchemy's InstanceState reads it (db.raw.attach sets it as the ORM's loading does)
_.session_id  # SQLAlchemy's InstanceState: the session an attached row belongs to (db.raw.attach)
