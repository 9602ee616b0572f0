"""Start the Gradio demo on the shipped models: ``python app.py`` (what Hugging Face Spaces runs).

Host and port come from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (default 127.0.0.1:7860).
"""

from webapp.demo import launch

if __name__ == "__main__":
    launch()
