"""The dashboard's pages, one module each; importing them registers their routes on `bp`."""
