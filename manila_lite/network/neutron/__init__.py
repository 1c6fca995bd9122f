"""The Neutron network plugins: share server ports on Neutron networks (client in :mod:`.api`, plugins in :mod:`.plugin`)."""
