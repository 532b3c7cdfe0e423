"""tmsfield.targets"""
