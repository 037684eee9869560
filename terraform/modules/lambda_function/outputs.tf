output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "arn" {
  description = "The function's ARN. The function is created after its role's policy, so whatever uses the ARN (an event source mapping, a notification) is too."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "The ARN API Gateway invokes the function with."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_name" {
  description = "The function's execution role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}
