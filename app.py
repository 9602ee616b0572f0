"""Start the Gradio demo on the shipped models: ``python app.py`` (what Hugging Face Spaces runs).

Host and port come from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (default 127.0.0.1:7860).
``python app.py --share`` also opens a temporary public link through Gradio's share servers:
a class can use a teacher's laptop for a lesson without hosting anything.
"""

import argparse

from webapp.demo import launch

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--share", action="store_true", help="open a temporary public link")
    launch(share=parser.parse_args().share)
