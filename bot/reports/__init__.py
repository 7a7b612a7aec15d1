"""Reports: periods, rendering to text, Excel and PNG, and delivery helpers."""
