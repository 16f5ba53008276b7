//! The scenario suite: every file in scenarios/ played in the simulator (to be written).
