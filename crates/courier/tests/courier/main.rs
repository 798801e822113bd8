//! Integration tests of the courier core against the real dispatch server (in-process, port 0).

mod audit;
mod compression;
mod contract;
mod crash;
mod door;
mod flow;
mod helpers;
mod logs;
mod model;
mod proxy;
mod update;
mod view;
