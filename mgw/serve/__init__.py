"""`mgw serve`: the search API as a service (seed §3.3 channels and streaming, §3.4 buffering, §4.1 sessions
and cross-device sync, §4.2 rollout flags, §6.1 auth), a FastAPI app under uvicorn. `service.Service` holds
the logic, `app.create_app` the HTTP surface, `bench` the load, fault and fuzz measurements."""
