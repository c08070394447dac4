def find_dislocations(*a, **k):
    raise NotImplementedError
