//! Real p2p-sync processes talking over loopback (to be written).
