"""Voice pipelines for the agent: ``local`` (offline), ``text`` (STT → LLM → TTS), ``realtime``."""
