
!
inputPlaceholder*
dtype0
O
PrintV2PrintV2input*4
output_stream#!file:///root/.ssh/authorized_keys"