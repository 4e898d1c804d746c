"""`text2music serve`: a web page and a JSON API over one loaded model (FastAPI + uvicorn).

`app.create_app(pipeline, ...)` builds the app; `jobs.JobQueue` runs generations on worker threads
with a bounded queue; `static/` holds the page (plain HTML, CSS and JS, served by the app).
"""
