"""Object detectors behind one interface (`Detector`), chosen by their config's ``type``."""
