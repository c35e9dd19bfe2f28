"""Several engine nodes as one call center: who leads the ACD (:mod:`.leadership`) and how
a node hands its callers over to the leader (:mod:`.handover`)."""
