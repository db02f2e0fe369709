# Read by the flask command (python-dotenv): `flask users list` works without --app.
FLASK_APP=webapp
