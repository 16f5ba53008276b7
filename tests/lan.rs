//! A LAN of network namespaces, nodes found by mDNS (to be written).
