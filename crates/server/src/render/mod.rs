//! Drawing for people: HTML documents, QR codes and the label sheet's barcodes. No HTTP; the
//! pages and the command line both draw with it.

pub mod csv;
pub mod html;
pub mod labels;
pub mod map;
pub mod qr;
