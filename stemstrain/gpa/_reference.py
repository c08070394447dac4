def propose_reference(*a, **k):
    raise NotImplementedError
