"""tmsfield.cli"""
