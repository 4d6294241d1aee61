"""The guide's file server, kept at two containers: both listen on port 8000 on one host."""

import berth as modal

app = modal.App("file-server-pair")


@app.function(min_containers=2)
@modal.concurrent(max_inputs=100)
@modal.web_server(8000)
def my_file_server():
    import subprocess

    subprocess.Popen("python -m http.server -d / 8000", shell=True)
