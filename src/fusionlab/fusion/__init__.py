"""The fusion methods: plain nn.Modules on the shared base (``FusionMethod``), one file (or package) each."""
