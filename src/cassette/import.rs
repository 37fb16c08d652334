//! Importers (Ruby VCR, vcrpy, HAR 1.2) and the HAR exporter.
