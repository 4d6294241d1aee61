import berth

app = berth.App("broken")

def f(:
    pass
