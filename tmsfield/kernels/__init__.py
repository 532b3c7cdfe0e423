"""tmsfield.kernels"""
