//! Loading outside data into Signalons. Today: the Boston 2015 demo city.

pub mod areas;
pub mod boston;
pub mod gazetteer;
pub mod recluster;
pub mod synthetic;
