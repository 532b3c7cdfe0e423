"""tmsfield.viz"""
