"""The carrier media-stream shim: one carrier WebSocket ⇄ one room participant per call.

Where a carrier frame becomes room audio: :mod:`.call_bridge`. Webhooks and streams per
carrier: :mod:`.media_stream_gateway`; routes on the web server: :mod:`.routes`.
"""
