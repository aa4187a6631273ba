//! scanopy-scanners: the built-in ARP, TCP/service and Docker scanners. Not built yet (issue #3).
