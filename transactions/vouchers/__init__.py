"""The data voucher (데이터바우처): registration and verification, the split at checkout, and the agency's settlement."""
