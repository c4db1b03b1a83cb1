"""Plug-ins of Careline's Rasa server that are not part of the trained model: the tracker store, the lock
store and the run-time guards (ops/rasa_server.py installs them; endpoints.yml names the stores).
Changing them needs no retraining (ops/train.py leaves this folder out of the model's hash)."""
