"""tmsfield.solver"""
